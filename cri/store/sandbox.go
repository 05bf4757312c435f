// Package store keeps cria's durable records of sandboxes and containers:
// one JSON file per object, written atomically before a change
// is published in memory, name reservation, and reload after a restart.
package store

import "encoding/json"

// SandboxState is a sandbox's state.
//
//	RunPodSandbox ──▶ creating ── failed, or found after a crash: rolled back ──▶ (gone)
//	                     │ (every step done)
//	                     ▼
//	                   ready ──── StopPodSandbox ───▶ notready ── RemovePodSandbox ──▶ (gone)
//	     │                              ▲
//	     └──── found broken ────────────┘   (Reason says what is missing)
//
// A creating sandbox is hidden (List*, Status, stats) until its
// RunPodSandbox returns. "Found broken": its pause process died or a
// namespace pin is gone, noticed as it happens (the pause's end and mount
// table changes are pushed), or at a restart.
//
// A sandbox whose teardown failed half way stays notready with its
// NetworkUp / Pinned facts telling what a later Stop or Remove must finish.
type SandboxState string

const (
	SandboxCreating SandboxState = "creating"
	SandboxReady    SandboxState = "ready"
	SandboxNotReady SandboxState = "notready"
)

// Sandbox is the durable record of a pod sandbox.
type Sandbox struct {
	ID string `json:"id"`
	// Name is the reservation key derived from the CRI metadata.
	Name string `json:"name"`
	// Config is the CRI PodSandboxConfig, as protojson.
	Config         json.RawMessage `json:"config"`
	RuntimeHandler string          `json:"runtime_handler,omitempty"`
	CreatedAt      int64           `json:"created_at"` // unix nanoseconds
	State          SandboxState    `json:"state"`
	// Reason says why a sandbox is notready when it was not stopped by a
	// request (found broken after a restart, failed teardown).
	Reason string `json:"reason,omitempty"`

	// Dir is the sandbox's volatile directory (pinned namespaces, files).
	Dir string `json:"dir"`
	// NetNS, IPCNS and UTSNS are the pinned namespace files; empty means
	// the host's namespace.
	NetNS string `json:"netns,omitempty"`
	IPCNS string `json:"ipcns,omitempty"`
	UTSNS string `json:"utsns,omitempty"`
	// PIDNS is the pin of the pod's shared PID namespace (PIDMode "pod"),
	// held by the pause process.
	PIDNS string `json:"pidns,omitempty"`
	// UserNS is the pin of the pod's own user namespace (user namespace
	// mode POD), which owns its other namespaces; empty means the host's.
	UserNS string `json:"userns,omitempty"`
	// Pinned tells that the namespaces are still pinned (not yet released).
	Pinned bool `json:"pinned"`
	// PIDMode is "pod", "container" or "node".
	PIDMode string `json:"pid_mode"`
	// PausePID and PauseStart identify the pause process of a "pod" PID
	// namespace (start time in clock ticks since boot, against PID reuse).
	PausePID   int    `json:"pause_pid,omitempty"`
	PauseStart uint64 `json:"pause_start,omitempty"`
	// CgroupParent is the CRI's cgroup_parent; PauseCgroup the pause
	// process's own cgroup under it.
	CgroupParent string `json:"cgroup_parent,omitempty"`
	PauseCgroup  string `json:"pause_cgroup,omitempty"`

	Hostname     string `json:"hostname"`
	HostsPath    string `json:"hosts_path"`
	ResolvPath   string `json:"resolv_path"`
	HostnamePath string `json:"hostname_path"`
	ShmPath      string `json:"shm_path,omitempty"`

	// NetworkUp is true from a successful CNI ADD until a successful DEL.
	NetworkUp bool `json:"network_up"`
	// Network is the CNI network list name used; CNIResult its result.
	Network   string          `json:"network,omitempty"`
	CNIResult json.RawMessage `json:"cni_result,omitempty"`
	IPs       []string        `json:"ips,omitempty"`

	StoppedAt int64 `json:"stopped_at,omitempty"`
}

func (sb *Sandbox) recordID() string    { return sb.ID }
func (sb *Sandbox) recordName() string  { return sb.Name }
func (sb *Sandbox) recordTime() int64   { return sb.CreatedAt }
func (sb *Sandbox) recordGroup() string { return "" }

// Sandboxes holds every sandbox record.
type Sandboxes = Store[Sandbox, *Sandbox]

// OpenSandboxes loads every sandbox record under dir (see Open).
func OpenSandboxes(dir string) (*Sandboxes, []error) {
	return Open[Sandbox](dir, "sandbox", "sandbox.json")
}
