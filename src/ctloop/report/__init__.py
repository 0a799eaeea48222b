"""The static HTML dashboard (``ctloop report``)."""
