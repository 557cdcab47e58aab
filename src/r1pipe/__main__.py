from r1pipe.cli import app

app(prog_name="r1pipe")
