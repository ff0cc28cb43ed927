"""A stand-in for Meta's Cloud API on loopback (F25). The server is core.simulator.app.create_simulator; this package
imports nothing, so `wabox --help` can name the simulated ids (core.simulator.world) without loading Starlette."""
