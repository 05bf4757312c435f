// Package e2e tests cria's behaviour through a real daemon on a real socket,
// inside network, mount and IPC namespaces that the test binary makes for
// itself (see framework.Main).
package e2e

import (
	"testing"

	"github.com/cria-runtime/cria/test/framework"
)

func TestMain(m *testing.M) { framework.Main(m) }
