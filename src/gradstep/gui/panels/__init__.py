"""The panels that follow the session: code, notes, inspector, variables, timeline,
plots and the message bar. Each is given the session and redraws on its signals
(``FollowsSession``); the main window only places them.
"""
