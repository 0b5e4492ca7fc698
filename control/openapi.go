package control

import (
	_ "embed"
	"encoding/json"

	"gopkg.in/yaml.v3"
)

// openAPIYAML is the API's OpenAPI 3 document, written by hand next to
// the routes it describes (a test checks that the two agree).
//
//go:embed openapi.yaml
var openAPIYAML []byte

// openAPIJSON is the document as JSON, as /api/v1/openapi.json serves it.
func openAPIJSON() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, err
	}
	return json.MarshalIndent(doc, "", "  ")
}
