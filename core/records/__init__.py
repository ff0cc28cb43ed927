"""Records beside the threads: contacts, companies, deals, tickets and custom objects (issue 9)."""
