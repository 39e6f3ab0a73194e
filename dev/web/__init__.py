"""The demo clinic website that shows the chat widget (see ``serve``)."""
