"""Safe deployment: one Endpoint interface (local router + azmlinfsrv processes, or an Azure ML
managed online endpoint) and the blue/green rollout controller that drives it."""
