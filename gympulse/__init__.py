"""gympulse: the shared core (wire contract, settings, MQTT client, CLI)."""

__version__ = "0.1.0"
__all__ = ["__version__"]
