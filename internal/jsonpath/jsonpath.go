// Package jsonpath finds values in decoded JSON by the dotted paths the
// configuration spells (cluster.ready[].path, scenarios.custom's
// expect_json[].path): "leader_id", "peers.0", "choices.0.message.role".
// Keys select an object's field, whole numbers an array's element. It
// imports nothing of odbench.
package jsonpath

import (
	"strconv"
	"strings"
)

// Lookup walks path through doc (as encoding/json decodes into an any)
// and returns the value there, or false when the path leads nowhere.
func Lookup(doc any, path string) (any, bool) {
	cur := doc
	for _, seg := range strings.Split(strings.Trim(path, "."), ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[seg]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
