package streaming

import (
	"encoding/json"
	"errors"
	"testing"

	utilexec "k8s.io/utils/exec"
)

// The status that ends a websocket session is what client-go decodes into
// an exit code or an error.
func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"success", nil, `{"status":"Success"}`},
		{"exit code", utilexec.CodeExitError{Err: errors.New("exited with 3"), Code: 3},
			`{"status":"Failure","message":"command terminated with non-zero exit code: exited with 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}`},
		{"internal error", errors.New("container is gone"),
			`{"status":"Failure","message":"Internal error occurred: container is gone","reason":"InternalError","code":500}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(statusOf(tc.err))
			if err != nil || string(b) != tc.want {
				t.Errorf("status = %s (%v)\nwant %s", b, err, tc.want)
			}
		})
	}
}
