// Package bench holds daemon-level benchmarks: a real cria on a real socket,
// in the test's own namespaces. Run them with `make bench`.
package bench

import (
	"testing"

	"github.com/cria-runtime/cria/test/framework"
)

func TestMain(m *testing.M) { framework.Main(m) }
