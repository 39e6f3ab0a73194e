"""Use cases that own a database transaction: booking requests, promotion redemption,
erasing a person, retention purges and the webhook queue. They call rules and nlu for the
decisions and store for the rows; Rasa adapters and applications call them."""
