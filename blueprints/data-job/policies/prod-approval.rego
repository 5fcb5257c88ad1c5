# Approval policy for production runs: a run may be applied once two distinct reviewers other than
# its author approved it and nobody rejected it. When the stack carries an `approvers:<a>,<b>,...`
# label (written from the blueprint's `approvers` input), only the people it lists count.
#
# input:
#   run:     { "id": ..., "triggered_by": "<user>" }
#   reviews: [ { "author": "<user>", "decision": "approve" | "reject" } ]   (latest review per author)
#   stack:   the stack's stack.yaml, e.g. { "name": ..., "labels": [...] }
# results:
#   approve  true when the run may proceed
#   reject   true when a reviewer rejected it
#   reasons  why the run is not approved (yet)
package quarry.approval.two_reviewers

import rego.v1

required_approvals := 2

default approve := false

default reject := false

approve if {
	not reject
	count(approvers) >= required_approvals
}

reject if count(rejecters) > 0

approvers contains author if {
	some review in reviews
	review.decision == "approve"
	author := review.author
	eligible(author)
}

rejecters contains author if {
	some review in reviews
	review.decision == "reject"
	author := review.author
	eligible(author)
}

reasons contains message if {
	count(approvers) < required_approvals
	message := sprintf(
		"needs approvals from %d distinct reviewers other than the run's author%s, has %d",
		[required_approvals, listed_suffix, count(approvers)],
	)
}

reasons contains message if {
	some author in rejecters
	message := sprintf("rejected by %s", [author])
}

reviews := object.get(input, "reviews", [])

run_author := object.get(input, ["run", "triggered_by"], "")

eligible(author) if {
	is_string(author)
	author != ""
	author != run_author
	listed(author)
}

listed(_) if count(listed_approvers) == 0

listed(author) if author in listed_approvers

listed_approvers contains name if {
	some label in object.get(input, ["stack", "labels"], [])
	is_string(label)
	startswith(label, "approvers:")
	some name in split(trim_prefix(label, "approvers:"), ",")
	name != ""
}

listed_suffix := "" if count(listed_approvers) == 0

listed_suffix := sprintf(" (from: %s)", [concat(", ", sort(listed_approvers))]) if count(listed_approvers) > 0
