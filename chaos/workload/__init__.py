"""What clients do during a run: the chat clients, their presence, hostile members and the load fleet."""
