"""The loopback Messages API stub: server, replies, conversation, wire format."""
