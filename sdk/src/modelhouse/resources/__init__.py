"""One module per group of endpoints; each is reached as an attribute of the client."""
