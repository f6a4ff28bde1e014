"""Types, errors and protocols shared by every layer. No I/O lives here."""
