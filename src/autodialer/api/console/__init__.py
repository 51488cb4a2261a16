"""The web console at /console/: static pages (static/) that work only through the v2 API, plus its sign-in and
sign-out (a session of api/auth's gate) and the CSRF check for requests made with that session's cookie."""
