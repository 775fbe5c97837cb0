"""The Telegram front end (`newsbot telegram`): `app` assembles it, one module per concern holds
its handlers (`access`, `commands`, `answers`, `sources`, `admin`), `formatting` and `texts` what
users read, `network` how it talks to the Bot API, `state` the typed state they share."""
