"""Pure cryptography for the federation: canonical JSON, keys, signed documents, RFC 9421."""
