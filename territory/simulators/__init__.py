"""Protocol-faithful local simulators of the Tavily Search API and an OpenAI-compatible LLM.

Start both with `territory.simulators.server.start_simulators()`, or run
`python -m territory.simulators` to serve them until Ctrl-C.
"""
