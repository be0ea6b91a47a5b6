"""The cost engine: pure functions from tokens, presets and efficiencies to time, memory and money."""
