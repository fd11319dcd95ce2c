package settings

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestAnnotationsValue(t *testing.T) {
	for in, want := range map[string]string{
		`{"ociVersion":"1.0","annotations":{"a":"b"},"x":[1,{"y":"}"}]}`:                `{"a":"b"}`,
		` { "process" : { "args" : ["sh", "\"annotations\""] } , "annotations" : {} } `: `{}`,
		`{"annotations":{"a":"1"},"annotations":{"b":"2"}}`:                             `{"b":"2"}`,
		`{"annotations":null}`:                             `null`,
		`{"a":true,"b":-1.5e3,"annotations":{"k":"v\"}"}}`: `{"k":"v\"}"}`,
		`{"annotations":{"k":"v\\"}}`:                      `{"k":"v\\"}`,
		`{}`:                                               ``,
		`{"x":1}`:                                          ``,
		`[{"annotations":{}}]`:                             ``,
		`{"annotations":{"a":}`:                            ``,
		`{"annotations" {"a":1}}`:                          ``,
		`{"annotations":"open`:                             ``,
	} {
		if got := annotationsValue([]byte(in)); string(got) != want {
			t.Errorf("annotationsValue(%s) = %q, want %q", in, got, want)
		}
	}
}

// On every valid JSON object, the scan finds what encoding/json finds.
func FuzzAnnotationsValue(f *testing.F) {
	f.Add([]byte(`{"ociVersion":"1.0.2","process":{"args":["sh"]},"annotations":{"shim-project.github.io/log-rate":"1Mi"}}`))
	f.Add([]byte(`{"a":[{"annotations":1}],"annotations":{"x":"y"}}`))
	f.Add([]byte(`{"annotations":"a\"b","annotations":[1,2,{"c":"]"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := annotationsValue(b)
		var top map[string]json.RawMessage
		if !json.Valid(b) || json.Unmarshal(b, &top) != nil || top == nil {
			return // not an object: only that the scan does not panic
		}
		want, ok := top["annotations"]
		if !ok {
			if got != nil && !bytes.Contains(b, []byte(`\`)) {
				t.Fatalf("found %q in %q, encoding/json finds no annotations", got, b)
			}
			return
		}
		if bytes.Contains(b, []byte(`\`)) && got == nil {
			return // an escaped key: not recognised, by design
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("scan of %q gives %q, encoding/json %q", b, got, want)
		}
	})
}
