"""The portal's pages and forms in the matrix.

The portal authenticates with its session cookie, never with bearer tokens: every page
and form answers a token-only (or anonymous) caller with a redirect to the login page.
Roles, foreign ids (404 pages) and CSRF are specified in tests/integration/portal/.
"""

from __future__ import annotations

from tests.integration.security.matrix import EVERYONE, Rule

TO_LOGIN = Rule(EVERYONE, 302, anonymous_status=302, public=True)
PAGES = ("/catalog", "/requests", "/requests/new", "/requests/<request_id>", "/inbox",
         "/audit", "/admin/services", "/admin/offerings", "/admin/slas", "/admin/calendars",
         "/admin/cis", "/admin/teams", "/admin/people", "/inbox/events",
         "/trusts/<trust_id>/requests/<request_id>", "/admin/trusts",
         "/admin/trusts/<trust_id>/deactivate", "/admin/keys")  # fmt: skip
FORMS = ("/requests/new", "/requests/<request_id>/notes", "/requests/<request_id>/status",
         "/requests/<request_id>/assign", "/requests/<request_id>/sla", "/admin/services",
         "/admin/offerings", "/admin/offerings/<offering_id>/expire", "/admin/slas",
         "/admin/calendars", "/admin/calendars/preview", "/admin/cis", "/admin/teams",
         "/admin/people", "/trusts/<trust_id>/requests/<request_id>/notes",
         "/trusts/<trust_id>/requests/<request_id>/status", "/admin/trusts",
         "/admin/trusts/invitations", "/admin/trusts/<trust_id>/accept",
         "/admin/trusts/<trust_id>/deactivate", "/admin/keys/rotate",
         "/admin/keys/peer-key")  # fmt: skip

RULES = {
    **{(path, "GET"): TO_LOGIN for path in PAGES},
    **{(path, "POST"): TO_LOGIN for path in FORMS},
}
TARGETS: dict = {}
