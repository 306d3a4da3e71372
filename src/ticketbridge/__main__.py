from ticketbridge.cli import app

app(prog_name="ticketbridge")
