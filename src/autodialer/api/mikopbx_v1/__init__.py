"""The MikoPBX ModuleAutoDialer v1 wire, as pure functions from domain records to the dicts the routes answer:
``rows`` (every value a string, MikoPBX's key names and order), ``tasks`` (POST/PUT echo rules), ``polls`` and
``audio``. Nothing here reads storage; the routes get records from services and render them with these."""
