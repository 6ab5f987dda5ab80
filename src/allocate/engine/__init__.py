"""The engine: a Problem compiled, solved by a backend, verified, certified; the Allocation."""
