"""Browser tests: the app served over HTTP, driven by Debian chromium through Playwright."""
