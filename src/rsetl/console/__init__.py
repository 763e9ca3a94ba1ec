"""The run page served by `rsetl local up` under `/_rsetl/`: pipelines, executions and their chain."""
