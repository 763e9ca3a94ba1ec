// The run page: reads /_rsetl/api/* and draws it; graphs are laid out by dagre (vendored).
"use strict";

const API = "/_rsetl/api/";
const POLL_MS = 1000;
const IDLE_POLL_MS = 5000;
let current = { route: null, text: null, timer: null, selected: null, data: null };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function duration(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

function time(iso) {
  return iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("+00:00", "Z") : "";
}

function status(text) {
  return el("span", { class: `status ${text}` }, text);
}

function executionLink(run) {
  return el("a", { href: `#/execution/${encodeURIComponent(run.arn)}`, "data-execution": run.name },
    run.name.slice(0, 13));
}

async function load(path) {
  const response = await fetch(API + path, { cache: "no-store" });
  const text = await response.text();
  if (!response.ok) throw new Error(JSON.parse(text).message || response.statusText);
  return text;
}

function showClock(clock) {
  document.getElementById("clock").textContent =
    `${clock.virtual ? "virtual clock" : "clock"} ${time(clock.now)}`;
}

// -- layout ---------------------------------------------------------------------------------

function layout(nodes, edges, options) {
  const g = new dagre.graphlib.Graph({ compound: true, multigraph: true });
  g.setGraph({ rankdir: options.rankdir || "TB", nodesep: 18, ranksep: 28, edgesep: 8, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of nodes) {
    if (node.cluster) g.setNode(node.id, { label: node.label, clusterLabelPos: "top", paddingTop: 18 });
    else g.setNode(node.id, { label: node.label, width: Math.max(70, node.label.length * 7 + 20), height: 30 });
  }
  for (const node of nodes) if (node.parent) g.setParent(node.id, node.parent);
  edges.forEach((edge, index) => {
    g.setEdge(edge.from, edge.to, { label: edge.label || "", width: edge.label ? edge.label.length * 5 : 0, height: edge.label ? 12 : 0 }, `e${index}`);
  });
  dagre.layout(g);
  return g;
}

function drawGraph(g, nodes, edges, decorate) {
  const size = g.graph();
  // Drawn to the page's width (never wider than its own size), so the whole machine is in view.
  const root = svg("svg", { viewBox: `0 0 ${size.width + 10} ${size.height + 10}`, class: "graph-svg",
    style: `max-width: ${size.width + 10}px` },
    svg("defs", {},
      svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" },
        svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#afb8c1" })),
      svg("marker", { id: "arrow-taken", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" },
        svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#0969da" }))));
  for (const node of nodes.filter((n) => n.cluster)) {
    const box = g.node(node.id);
    const group = svg("g", { class: `cluster ${decorate.nodeClass(node)}`, "data-cluster": node.id },
      svg("rect", { x: box.x - box.width / 2, y: box.y - box.height / 2, width: box.width, height: box.height }),
      svg("text", { x: box.x - box.width / 2 + 8, y: box.y - box.height / 2 + 13 }, node.label));
    root.append(group);
  }
  edges.forEach((edge, index) => {
    const route = g.edge({ v: edge.from, w: edge.to, name: `e${index}` });
    const d = route.points.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
    const group = svg("g", { class: `edge ${decorate.edgeClass(edge)}`, "data-from": edge.from, "data-to": edge.to },
      svg("path", { d }));
    if (edge.label && route.x !== undefined) group.append(svg("text", { x: route.x, y: route.y, "text-anchor": "middle" }, edge.label));
    root.append(group);
  });
  for (const node of nodes.filter((n) => !n.cluster)) {
    const box = g.node(node.id);
    const group = svg("g", { class: `node ${decorate.nodeClass(node)}`, "data-state": node.state || node.id },
      svg("rect", { x: box.x - box.width / 2, y: box.y - box.height / 2, width: box.width, height: box.height }),
      svg("text", { x: box.x, y: box.y + 4, "text-anchor": "middle" }, node.label));
    if (decorate.title) group.append(svg("title", {}, decorate.title(node)));
    if (decorate.onclick) group.addEventListener("click", () => decorate.onclick(node));
    root.append(group);
  }
  return el("div", { class: "graph" }, root);
}

// -- pipelines ------------------------------------------------------------------------------

function renderPipelines(data) {
  const nodes = [];
  const edges = [];
  for (const pipeline of data.pipelines) {
    nodes.push({ id: pipeline.name, label: pipeline.name, kind: "pipeline", pipeline });
    for (const trigger of pipeline.triggers) {
      // An indirect trigger's chain (a function, then the machines it starts) is one node before the pipeline.
      let start = pipeline.name;
      if (trigger.via.length) {
        start = `via:${trigger.rule}`;
        nodes.push({ id: start, label: trigger.via.join(" → "), kind: "trigger" });
        edges.push({ from: start, to: pipeline.name, label: "" });
      }
      if (trigger.upstream.length) {
        for (const upstream of trigger.upstream) edges.push({ from: upstream, to: start, label: "succeeded" });
      } else {
        const id = `trigger:${trigger.rule}`;
        nodes.push({ id, label: trigger.when, kind: "trigger" });
        edges.push({ from: id, to: start, label: "" });
      }
    }
  }
  const g = layout(nodes, edges, { rankdir: "LR" });
  const graph = drawGraph(g, nodes, edges, {
    nodeClass: (node) => (node.kind === "trigger" ? "trigger" : lastRunClass(node.pipeline)),
    edgeClass: () => "",
    title: (node) => (node.pipeline ? node.pipeline.description : node.label),
  });
  const rows = data.pipelines.map((pipeline) => el("tr", { "data-pipeline": pipeline.name },
    el("td", {}, el("b", {}, pipeline.name), el("div", { class: "muted" }, pipeline.description)),
    el("td", {}, pipeline.triggers.map((t) => el("div", {}, t.summary, el("div", { class: "muted" }, el("code", {}, t.rule))))),
    el("td", {}, pipeline.downstream.join(", ")),
    el("td", { class: "runs" }, pipeline.runs.length ? pipeline.runs.map((run) => el("div", {},
      executionLink(run), " ", status(run.status), " ", duration(run.durationMs), " ",
      el("span", { class: "muted" }, time(run.startDate)))) : el("span", { class: "muted" }, "no runs"),
      pipeline.runCount > pipeline.runs.length ? el("div", { class: "muted" }, `${pipeline.runCount} runs in all`) : null)));
  return [
    el("h1", {}, "Pipelines"),
    el("p", { class: "muted" }, "Triggers and downstream links as template.yaml wires them; a pipeline is coloured by its last run."),
    graph,
    el("h2", {}, "Last runs"),
    el("table", { id: "pipelines" },
      el("tr", {}, el("th", {}, "pipeline"), el("th", {}, "started by"), el("th", {}, "downstream"), el("th", {}, "last runs")),
      rows),
  ];
}

function lastRunClass(pipeline) {
  const last = pipeline && pipeline.runs[0];
  if (!last) return "";
  if (last.status === "SUCCEEDED") return "entered";
  if (last.status === "RUNNING") return "entered running";
  return "failed";
}

// -- one execution --------------------------------------------------------------------------

function graphNodes(view) {
  const containers = new Set(view.graph.nodes.filter((n) => n.type === "Map" || n.type === "Parallel").map((n) => n.id));
  const clusterOf = (parent) => (parent === null ? null : containers.has(parent) ? `${parent}::cluster` : parent);
  const nodes = [];
  for (const node of view.graph.nodes) {
    if (node.type === "Branch") {
      nodes.push({ id: node.id, label: node.id, cluster: true, parent: clusterOf(node.parent), state: node.parent });
      continue;
    }
    if (containers.has(node.id)) {
      nodes.push({ id: `${node.id}::cluster`, label: `${node.id} (${node.type})`, cluster: true, parent: clusterOf(node.parent), state: node.id });
    }
    nodes.push({ id: node.id, label: node.id, state: node.id, type: node.type,
      parent: containers.has(node.id) ? `${node.id}::cluster` : clusterOf(node.parent) });
  }
  return nodes;
}

function stateClass(view, name) {
  const state = view.states[name];
  if (!state) return "";
  const entries = state.entries;
  const node = view.graph.nodes.find((n) => n.id === name);
  const failed = (node && node.type === "Fail") || entries.some((e) => e.failures.some((f) => f.outcome === "uncaught"));
  const running = entries.some((e) => e.runningMs !== undefined) && view.execution.status === "RUNNING";
  return ["entered", failed ? "failed" : "", running ? "running" : ""].join(" ");
}

function innerEdges(view) {
  // A Map or Parallel enters its inner start states: drawn as edges from the state to them.
  const edges = [];
  for (const node of view.graph.nodes) {
    if (!node.start || node.parent === null) continue;
    const owner = view.graph.nodes.find((n) => n.id === node.parent);
    const from = owner && owner.type === "Branch" ? owner.parent : node.parent;
    edges.push({ from, to: node.id, label: "", inner: true });
  }
  return edges;
}

function renderExecution(view) {
  const run = view.execution;
  const nodes = graphNodes(view);
  const edges = view.graph.edges.concat(innerEdges(view));
  const taken = new Set(view.taken.map(([a, b]) => `${a}\u0000${b}`));
  const g = layout(nodes, edges, { rankdir: "TB" });
  const graph = drawGraph(g, nodes, edges, {
    nodeClass: (node) => stateClass(view, node.state),
    edgeClass: (edge) => (taken.has(`${edge.from}\u0000${edge.to}`) || (edge.inner && view.states[edge.to]) ? "taken" : ""),
    title: (node) => {
      const state = view.states[node.state];
      return state ? `${node.state}: entered ${state.count}×, ${duration(state.totalMs)} in all` : `${node.state}: not entered`;
    },
    onclick: (node) => showState(view, node.state),
  });
  const parts = [
    el("h1", {}, `${run.pipeline} · `, el("code", {}, run.name), " ", status(run.status)),
    el("p", {}, `started ${time(run.startDate)}`, run.stopDate ? `, ended ${time(run.stopDate)}` : "",
      ` · ${duration(run.durationMs)}`, ` · ${Object.values(view.states).reduce((n, s) => n + s.count, 0)} states entered`),
  ];
  if (run.error) parts.push(el("div", { class: "error", id: "execution-error" }, el("b", {}, run.error), el("pre", {}, run.cause || "")));
  parts.push(el("h2", {}, "Chain"), renderChain(view.chain, run.arn));
  parts.push(el("h2", {}, "State machine"), el("p", { class: "muted" }, "The path this execution took is highlighted; click a state for its entries, input and output."), graph);
  parts.push(el("h2", {}, "Data API statements"), renderStatements(view.statements));
  parts.push(el("h2", {}, "Input and output"),
    el("details", {}, el("summary", {}, "input"), el("pre", { class: "json" }, JSON.stringify(run.input, null, 2))));
  if (run.output !== null && run.output !== undefined) {
    parts.push(el("details", {}, el("summary", {}, "output"), el("pre", { class: "json" }, JSON.stringify(run.output, null, 2))));
  }
  return parts;
}

function renderChain(chain, arn) {
  if (!chain.length) return el("p", { class: "muted" }, "Started by hand.");
  const first = chain.find((link) => link.time || link.startDate);
  const origin = first ? Date.parse(first.time || first.startDate) : null;
  const offset = (iso) => (origin !== null && iso ? `+${duration(Date.parse(iso) - origin)}` : "");
  const cards = [];
  chain.forEach((link, index) => {
    if (index) cards.push(el("span", { class: "arrow" }, "→"));
    if (link.kind === "event") {
      cards.push(el("div", { class: "link event", "data-kind": "event" }, el("div", { class: "kind" }, `event ${offset(link.time)}`),
        link.label, el("div", { class: "muted" }, link.detail || ""), el("div", { class: "muted" }, time(link.time))));
    } else if (link.kind === "rule") {
      cards.push(el("div", { class: "link rule", "data-kind": "rule" }, el("div", { class: "kind" }, `rule ${offset(link.time)}`),
        el("code", {}, link.label), el("div", {}, status(link.status), ` ${link.attempts} attempt(s) ${duration(link.durationMs)}`),
        link.errors.length ? el("div", { class: "error" }, link.errors.join("; ")) : null));
    } else {
      cards.push(el("div", { class: `link execution${link.arn === arn ? " current" : ""}`, "data-kind": "execution" },
        el("div", { class: "kind" }, `execution ${offset(link.startDate)}`), link.pipeline, " ", executionLink(link),
        el("div", {}, status(link.status), " ", duration(link.durationMs))));
    }
  });
  return el("div", { class: "chain", id: "chain" }, cards);
}

function renderStatements(statements) {
  if (!statements.length) return el("p", { class: "muted" }, "No Data API statements held for this execution.");
  return el("table", { id: "statements" },
    el("tr", {}, el("th", {}, "step"), el("th", {}, "status"), el("th", {}, "duration"), el("th", {}, "rows"), el("th", {}, "SQL")),
    statements.map((s) => el("tr", { "data-step": s.step },
      el("td", {}, s.step, el("div", { class: "muted" }, el("code", {}, s.id.slice(0, 8)))),
      el("td", {}, status(s.status), s.error ? el("div", { class: "error" }, s.error) : null),
      el("td", {}, duration(s.durationMs)),
      el("td", {}, s.rows === null || s.rows < 0 ? "" : s.rows),
      el("td", {}, s.sql.map((sub) => el("div", { class: "entry" }, el("pre", {}, sub.text),
        s.sql.length > 1 ? el("div", { class: "muted" }, status(sub.status), ` ${duration(sub.durationMs)}`,
          sub.rows >= 0 ? ` · ${sub.rows} rows` : "") : null,
        sub.error ? el("div", { class: "error" }, sub.error) : null))))));
}

function showState(view, name) {
  current.selected = name;
  const panel = document.getElementById("panel");
  const state = view.states[name];
  panel.hidden = false;
  document.body.classList.add("with-panel");
  const close = el("button", { class: "close", title: "close", onclick: () => {
    current.selected = null; panel.hidden = true; document.body.classList.remove("with-panel");
  } }, "×");
  if (!state) {
    panel.replaceChildren(close, el("div", {}, el("h2", {}, name), el("p", { class: "muted" }, "Not entered by this execution.")));
    return;
  }
  const shown = state.entries.slice(-50);
  panel.replaceChildren(close, el("div", {}, el("h2", { id: "panel-state" }, name),
    el("p", {}, `entered ${state.count}× · first ${time(state.firstEntered)} · ${duration(state.totalMs)} in all`),
    state.entries.length > shown.length ? el("p", { class: "muted" }, `the last ${shown.length} entries:`) : null,
    shown.map((entry) => el("div", { class: "entry" },
      el("div", {}, `entered ${time(entry.entered)}`, entry.runningMs === undefined ? ` · ${duration(entry.durationMs)}` : ` · running ${duration(entry.runningMs)}`,
        entry.retries ? ` · ${entry.retries} retr${entry.retries === 1 ? "y" : "ies"}` : ""),
      entry.failures.map((f) => el("div", { class: "error" }, `${f.type} (${f.outcome}): `, el("b", {}, f.error || ""), el("pre", {}, f.cause || ""))),
      el("details", {}, el("summary", {}, "input"), el("pre", {}, JSON.stringify(entry.input, null, 2))),
      entry.exited ? el("details", {}, el("summary", {}, "output"), el("pre", {}, JSON.stringify(entry.output, null, 2))) : null))));
}

// -- routing and live updates ---------------------------------------------------------------

function route() {
  const hash = location.hash || "#/";
  const match = hash.match(/^#\/execution\/(.+)$/);
  if (match) return { path: `execution?arn=${match[1]}`, render: renderExecution, live: (data) => data.execution.status === "RUNNING" };
  return { path: "pipelines", render: renderPipelines, live: () => true };
}

async function refresh() {
  const target = route();
  let text;
  try {
    text = await load(target.path);
  } catch (error) {
    document.getElementById("view").replaceChildren(el("p", { class: "error" }, String(error.message || error)));
    return;
  }
  const data = JSON.parse(text);
  showClock(data.clock);
  // The clock ticks on every poll; only a change in what is shown redraws the page.
  const shown = JSON.stringify({ ...data, clock: null });
  const changed = shown !== current.text || target.path !== current.route;
  current.text = shown;
  current.route = target.path;
  current.data = data;
  if (changed) {
    const view = document.getElementById("view");
    view.replaceChildren(...target.render(data));
    view.dataset.rendered = target.path;
    view.dataset.renderedAt = String(Math.round(performance.now()));
    if (current.selected && data.states) showState(data, current.selected);
  }
  clearTimeout(current.timer);
  current.timer = setTimeout(refresh, target.live(data) ? POLL_MS : IDLE_POLL_MS);
}

window.addEventListener("hashchange", () => {
  current.selected = null;
  document.getElementById("panel").hidden = true;
  document.body.classList.remove("with-panel");
  refresh();
});
refresh();
