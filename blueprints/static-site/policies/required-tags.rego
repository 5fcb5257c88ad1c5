# Plan policy: every taggable resource the plan creates or updates must carry the tags the platform
# bills and pages by. Evaluated on the JSON plan (`terraform show -json PLANFILE`); the run fails
# when `deny` holds any message.
#
# A resource is taggable when its planned state has a `tags` attribute. Provider `default_tags`
# count (they appear in `tags_all`), and a tag whose value is only known after apply is accepted.
package quarry.plan.required_tags

import rego.v1

required_tags := {"owner", "environment"}

deny contains message if {
	some resource in object.get(input, "resource_changes", [])
	resource.mode == "managed"
	creates_or_updates(resource.change)
	taggable(resource.change)
	some tag in required_tags
	not tagged(resource.change, tag)
	message := sprintf("%s: missing required tag `%s` (required: owner, environment)", [resource.address, tag])
}

creates_or_updates(change) if "create" in change.actions

creates_or_updates(change) if "update" in change.actions

taggable(change) if {
	is_object(change.after)
	"tags" in object.keys(change.after)
}

taggable(change) if unknown(change, "tags")

tagged(change, tag) if {
	value := planned_tags(change.after)[tag]
	is_string(value)
	value != ""
}

tagged(change, tag) if unknown(change, "tags")

tagged(change, tag) if unknown(change, "tags_all")

tagged(change, tag) if change.after_unknown.tags[tag] == true

tagged(change, tag) if change.after_unknown.tags_all[tag] == true

# `tags_all` (resource tags merged with the provider's default_tags) when the provider has it,
# plus the resource's own `tags`.
planned_tags(after) := object.union(tag_map(after, "tags_all"), tag_map(after, "tags"))

tag_map(after, attribute) := value if {
	is_object(after)
	value := object.get(after, attribute, {})
	is_object(value)
} else := {}

unknown(change, attribute) if change.after_unknown[attribute] == true
