"""TokenWatch Desktop: LLM API spend and coding-agent usage in the system tray and the terminal."""

__version__ = "0.1.0"
