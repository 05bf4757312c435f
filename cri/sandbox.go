package cri

import (
	"fmt"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/cria-runtime/cria/cgroups"
	"github.com/cria-runtime/cria/cri/network"
	"github.com/cria-runtime/cria/cri/store"
	"github.com/cria-runtime/cria/oci/monitor"
	"github.com/cria-runtime/cria/oci/monitor/wire"
)

// sandboxConfig decodes the CRI config kept in a record.
func sandboxConfig(sb *store.Sandbox) *runtimeapi.PodSandboxConfig {
	c := &runtimeapi.PodSandboxConfig{}
	_ = protojson.Unmarshal(sb.Config, c) // written by us from a valid message
	return c
}

// cniPod describes sb to the CNI plugins.
func cniPod(sb *store.Sandbox, c *runtimeapi.PodSandboxConfig) network.Pod {
	p := network.Pod{
		ID:        sb.ID,
		Name:      c.GetMetadata().GetName(),
		Namespace: c.GetMetadata().GetNamespace(),
		UID:       c.GetMetadata().GetUid(),
	}
	if network.IsPinned(sb.NetNS) {
		p.NetNS = sb.NetNS
	}
	for _, pm := range c.GetPortMappings() {
		if pm.HostPort == 0 {
			continue // no host port: nothing to map
		}
		proto := strings.ToLower(pm.Protocol.String())
		p.PortMappings = append(p.PortMappings, network.PortMapping{
			HostPort: pm.HostPort, ContainerPort: pm.ContainerPort, Protocol: proto, HostIP: pm.HostIp,
		})
	}
	return p
}

// startPause starts the pod's pause process (see monitor.StartPause) in
// the pod's namespaces (or, with create, in new ones that it then sets up
// and pins as create asks), pins its PID namespace at sb.PIDNS, and
// records both durably,
// then moves it into its cgroup and lets it run. A crash at any instant
// leaves either no pause (one not yet let run ends by itself) or a
// recorded one. It fills in sb's pause fields; on error the caller's
// teardown of sb releases what they name.
func (s *RuntimeService) startPause(sb *store.Sandbox, create *network.NamespaceRequest) (retErr error) {
	cg := pauseCgroup(s.opts.CgroupDriver, sb)
	o := monitor.PauseOptions{Binary: s.opts.MonitorPath, Root: sb.Dir, Net: sb.NetNS, IPC: sb.IPCNS, UTS: sb.UTSNS}
	if create != nil {
		o.UserNS = &monitor.UserNS{UIDs: create.User.UIDs, GIDs: create.User.GIDs, Net: create.Net, IPC: create.IPC, UTS: create.UTS}
	}
	p, err := monitor.StartPause(o)
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			p.Kill()
		}
	}()
	if create != nil {
		// The paths were recorded before anything was made: a crash
		// from here on finds the pins to release.
		sb.Pinned = true
		if _, err := network.PinNamespacesOf(p.Pid, *create); err != nil {
			return err
		}
	}
	// sb.PIDNS was recorded before anything was made, so that a crash
	// right after the pin still finds it to release.
	if err := network.PinPIDNamespace(p.Pid, sb.PIDNS); err != nil {
		return err
	}
	sb.Pinned = true
	sb.PausePID, sb.PauseStart, sb.PauseCgroup = p.Pid, p.Start, cg.String()
	if err := s.sandboxes.Put(sb); err != nil {
		return err
	}
	if err := cg.Apply(p.Pid); err != nil {
		return err
	}
	if err := p.Release(); err != nil {
		return fmt.Errorf("letting the pause process run: %w", err)
	}
	go func() {
		<-p.Exited
		s.checkSandbox(sb.ID)
	}()
	return nil
}

// pauseAlive tells whether sb's pause process is the one cria started.
func pauseAlive(sb *store.Sandbox) bool {
	if sb.PausePID == 0 {
		return false
	}
	start, err := wire.ProcessStart(sb.PausePID)
	return err == nil && start == sb.PauseStart
}

// pauseCgroup is the cgroup of sb's pause process.
func pauseCgroup(driver cgroups.Driver, sb *store.Sandbox) cgroups.ProcessCgroup {
	return cgroups.ProcessCgroup{Driver: driver, Parent: sb.CgroupParent, Name: "cria-pause-" + sb.ID[:12]}
}

// sandboxDir is a sandbox's volatile directory.
func (s *RuntimeService) sandboxDir(id string) string {
	return filepath.Join(s.opts.Config.RunRoot, "sandboxes", id)
}
