"""The defaults that inference's surfaces share, written once: `predict`, the HTTP API and page,
and the CLI's options (no imports: the CLI reads them before anything heavy is loaded)."""

WINDOW_SECONDS = 10.0  # longer audio is cut into windows of this length, probabilities averaged
MAX_MB = 20.0  # serve: larger uploads are refused (413) before they are read past the limit
MAX_SECONDS = 120.0  # serve: longer audio is refused (413) from its header
MAX_PENDING = 16  # serve: requests held at once (one computed at a time); more are answered 503
