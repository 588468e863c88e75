"""The server: the page, the API, users and the gate in front of them."""
