"""``hai-cli tui``: a live terminal monitor built with Textual (see app.build_app)."""
