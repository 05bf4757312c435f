package store

import "encoding/json"

// ContainerState is a container's state.
//
//	CreateContainer ──▶ creating ──▶ created ── StartContainer ──▶ running ──▶ exited ── RemoveContainer ──▶ (gone)
//	                       │            │                                       ▲
//	                       │            └──────────── start failed ─────────────┘
//	                       └── failed, or found after a crash: rolled back ──▶ (gone)
//
// A creating container is hidden (List*, Status, events) until its
// CreateContainer returns. running becomes exited when the monitor's exit
// record appears (pushed as the monitor ends, see cri/container_exit.go),
// or when the monitor is gone without one (reason "Unknown", as after a
// reboot).
type ContainerState string

const (
	ContainerCreating ContainerState = "creating"
	ContainerCreated  ContainerState = "created"
	ContainerRunning  ContainerState = "running"
	ContainerExited   ContainerState = "exited"
)

// Container is the durable record of a container.
type Container struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	SandboxID string          `json:"sandbox_id"`
	Config    json.RawMessage `json:"config"` // CRI ContainerConfig, as protojson
	// ImageRef is the image as the config named it; ImageID its id.
	ImageRef string `json:"image_ref"`
	ImageID  string `json:"image_id"`

	State ContainerState `json:"state"`
	// Reason and Message explain an exit (Completed, Error, OOMKilled,
	// StartError, Unknown) or a create in progress ("creating").
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`

	CreatedAt  int64 `json:"created_at"`
	StartedAt  int64 `json:"started_at,omitempty"`
	FinishedAt int64 `json:"finished_at,omitempty"`
	ExitCode   int32 `json:"exit_code"`

	// Dir is the run directory (spec, monitor files); Rootfs the mounted
	// root filesystem; VolumesDir, set only by builds that kept image
	// VOLUMEs in host directories, is removed with the container.
	Dir        string `json:"dir"`
	Rootfs     string `json:"rootfs,omitempty"`
	VolumesDir string `json:"volumes_dir,omitempty"`
	LogPath    string `json:"log_path"`
	StopSignal string `json:"stop_signal"`

	// SharesPID tells that the container has no PID namespace of its own
	// (its pod's, the host's or another container's): when its init dies,
	// the rest of its processes must be killed through its cgroup.
	SharesPID bool `json:"shares_pid,omitempty"`

	// User is the identity the container's processes run as.
	User *ContainerUser `json:"user,omitempty"`

	// ImageVolumes are the CRI mounts that name an image, each mounted
	// read-only from a layer of its own.
	ImageVolumes []ImageVolume `json:"image_volumes,omitempty"`

	// Pid and PidStart identify the init; MonitorPid and MonitorStart its
	// monitor (start times in clock ticks, against pid reuse).
	Pid          int    `json:"pid,omitempty"`
	PidStart     uint64 `json:"pid_start,omitempty"`
	MonitorPid   int    `json:"monitor_pid,omitempty"`
	MonitorStart uint64 `json:"monitor_start,omitempty"`
}

// ContainerUser is a container's uid, primary gid and supplementary groups.
type ContainerUser struct {
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups,omitempty"`
}

// ImageVolume is an image mounted into a container: the CRI mount at index
// Mount of its config, served from storage layer Layer of image ImageID.
type ImageVolume struct {
	Mount   int    `json:"mount"`
	Layer   string `json:"layer"`
	ImageID string `json:"image_id,omitempty"`
	// Path is the host path bound into the container (the layer's mount,
	// or the image_sub_path within it).
	Path string `json:"path,omitempty"`
}

func (c *Container) recordID() string    { return c.ID }
func (c *Container) recordName() string  { return c.Name }
func (c *Container) recordTime() int64   { return c.CreatedAt }
func (c *Container) recordGroup() string { return c.SandboxID }

// Containers holds every container record.
type Containers = Store[Container, *Container]

// OpenContainers loads every container record under dir (see Open).
func OpenContainers(dir string) (*Containers, []error) {
	return Open[Container](dir, "container", "container.json")
}
