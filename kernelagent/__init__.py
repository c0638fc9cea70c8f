"""kernelagent: an in-sandbox agent serving the HopX VM Agent API over warm Jupyter kernels."""

__version__ = "0.1.0"
