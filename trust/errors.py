"""Federation failures as node errors with stable codes (rendered as problem+json)."""

from __future__ import annotations

from account_node.errors import Conflict, Forbidden, NodeError, NotAuthenticated, NotFound


class PeerUnavailable(NodeError):
    """The peer was down, slow, or answered garbage. Its own text is never shown."""

    status = 502
    code = "peer_unavailable"
    title = "The peer node could not be reached or did not answer properly"


class PeerOutcomeUnknown(PeerUnavailable):
    """An action reached the peer, or may have, but no usable answer came back: the peer
    may have done it. Retrying blindly could do it twice (a note posted twice)."""

    code = "peer_outcome_unknown"
    title = "The peer node may have taken the change, but its answer was lost"


class PeerDeclined(NodeError):
    status = 502
    code = "peer_declined"
    title = "The peer node refused the call"


class PeerNotAllowed(NodeError):
    status = 422
    code = "peer_not_allowed"
    title = "That peer URL may not be called"


class FederationRefused(NotAuthenticated):
    """An incoming federation call failed authentication; ``code`` says why."""

    code = "federation_refused"
    title = "The federation call was refused"


class TrustNotFound(NotFound):
    code = "trust_not_found"


class TrustInactive(Forbidden):
    code = "trust_inactive"
    title = "The trust is not active"


class TrustConflict(Conflict):
    code = "trust_conflict"


class FederationForbidden(FederationRefused):
    """An authenticated call that this account's own records refuse: the trust is unknown,
    inactive or not the signer's, or the object is outside what the trust offers."""

    status = 403
    code = "federation_forbidden"
    title = "The federation call is not allowed under this trust"


class ProposalWithdrawn(TrustConflict):
    """A proposal ended (withdrawn by its proposer, or declined) before it was accepted."""

    code = "proposal_withdrawn"
    title = "The proposal was withdrawn"


class ProposalStale(TrustConflict):
    """A key the proposal names was replaced after a suspected compromise: the proposal
    proves nothing now, and the trusting account must propose again."""

    code = "proposal_stale"
    title = "The proposal no longer holds: propose again"
