"""The supervisors' pages in the console: the live floor, a read-only view of any live chat,
and the charts (R9, R13, R19, R23). Their figures all come from `chat.metrics`."""
