"""Protocol-faithful local simulators of the Tavily Search API and an OpenAI-compatible LLM.

Start both with `simulators.server.start_simulators()`, or run
`python -m simulators` to serve them until Ctrl-C.
"""
