package samtemplate_test

import "encoding/json"

func sprintJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return "!" + err.Error()
	}
	return string(data)
}
