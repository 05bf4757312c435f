// Command nriplugin is the e2e tests' NRI plugin, on the NRI module's stub.
// It records every event it is sent, one JSON line each, and acts on a
// container by the prefix of its name:
//
//	adjust-   adds an env variable, a bind mount, a device node, an
//	          annotation, an rlimit, and CPU and memory limits
//	fail-     fails its CreateContainer
//	hang-     holds its CreateContainer for a minute
//	update-   once started, updates its memory limit unasked
//
// With -quiet it records only its connections and synchronisations, and
// is a plugin that subscribes to every event and does nothing.
//
// With -reconnect it connects again whenever the runtime goes away.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
)

// Limits the adjust- and update- containers get.
const (
	adjustMemory = 64 << 20
	adjustQuota  = 25000
	adjustPeriod = 100000
	updateMemory = 96 << 20
)

type event struct {
	Event     string `json:"event"`
	Pod       string `json:"pod,omitempty"`
	PodID     string `json:"pod_id,omitempty"`
	Container string `json:"container,omitempty"`
	ID        string `json:"id,omitempty"`
	State     string `json:"state,omitempty"`
}

type plugin struct {
	mountSrc string
	// quiet records only the plugin's own events (Connected,
	// Synchronized, Disconnected): a plugin that does nothing.
	quiet bool

	mu   sync.Mutex
	out  *os.File
	stub stub.Stub
}

func (p *plugin) record(ev event) {
	if own := ev.Event == "Connected" || ev.Event == "Synchronized" || ev.Event == "Disconnected"; p.quiet && !own {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	b, _ := json.Marshal(ev)
	_, _ = p.out.Write(append(b, '\n'))
}

func (p *plugin) podEvent(name string, pod *api.PodSandbox) {
	p.record(event{Event: name, Pod: pod.GetName(), PodID: pod.GetId()})
}

func (p *plugin) ctrEvent(name string, pod *api.PodSandbox, c *api.Container) {
	p.record(event{Event: name, Pod: pod.GetName(), PodID: pod.GetId(), Container: c.GetName(), ID: c.GetId(), State: c.GetState().String()})
}

func (p *plugin) Synchronize(_ context.Context, pods []*api.PodSandbox, ctrs []*api.Container) ([]*api.ContainerUpdate, error) {
	for _, pod := range pods {
		p.record(event{Event: "SyncPod", Pod: pod.GetName(), PodID: pod.GetId()})
	}
	for _, c := range ctrs {
		p.record(event{Event: "SyncContainer", PodID: c.GetPodSandboxId(), Container: c.GetName(), ID: c.GetId(), State: c.GetState().String()})
	}
	p.record(event{Event: "Synchronized"})
	return nil, nil
}

func (p *plugin) RunPodSandbox(_ context.Context, pod *api.PodSandbox) error {
	p.podEvent("RunPodSandbox", pod)
	return nil
}

func (p *plugin) UpdatePodSandbox(_ context.Context, pod *api.PodSandbox, _, res *api.LinuxResources) error {
	p.record(event{Event: fmt.Sprintf("UpdatePodSandbox cpu-shares=%d", res.GetCpu().GetShares().GetValue()), Pod: pod.GetName(), PodID: pod.GetId()})
	return nil
}

func (p *plugin) PostUpdatePodSandbox(_ context.Context, pod *api.PodSandbox) error {
	p.podEvent("PostUpdatePodSandbox", pod)
	return nil
}

func (p *plugin) StopPodSandbox(_ context.Context, pod *api.PodSandbox) error {
	p.podEvent("StopPodSandbox", pod)
	return nil
}

func (p *plugin) RemovePodSandbox(_ context.Context, pod *api.PodSandbox) error {
	p.podEvent("RemovePodSandbox", pod)
	return nil
}

func (p *plugin) CreateContainer(ctx context.Context, pod *api.PodSandbox, c *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	p.ctrEvent("CreateContainer", pod, c)
	adj := &api.ContainerAdjustment{}
	switch name := c.GetName(); {
	case strings.HasPrefix(name, "adjust-"):
		adj.AddEnv("NRI_INJECTED", "yes")
		adj.AddAnnotation("nri.cria.test/adjusted", "yes")
		adj.AddMount(&api.Mount{Destination: "/nri-mount", Type: "bind", Source: p.mountSrc, Options: []string{"rbind", "ro"}})
		adj.AddDevice(&api.LinuxDevice{Path: "/dev/nri-null", Type: "c", Major: 1, Minor: 3, FileMode: api.FileMode(0o666)})
		adj.AddRlimit("RLIMIT_NOFILE", 1000, 1000)
		adj.SetLinuxMemoryLimit(adjustMemory)
		adj.SetLinuxCPUQuota(adjustQuota)
		adj.SetLinuxCPUPeriod(adjustPeriod)
	case strings.HasPrefix(name, "fail-"):
		return nil, nil, errors.New("the test plugin refuses fail-* containers")
	case strings.HasPrefix(name, "hang-"):
		select {
		case <-time.After(time.Minute):
		case <-ctx.Done():
		}
	}
	return adj, nil, nil
}

func (p *plugin) PostCreateContainer(_ context.Context, pod *api.PodSandbox, c *api.Container) error {
	p.ctrEvent("PostCreateContainer", pod, c)
	return nil
}

func (p *plugin) StartContainer(_ context.Context, pod *api.PodSandbox, c *api.Container) error {
	p.ctrEvent("StartContainer", pod, c)
	return nil
}

func (p *plugin) PostStartContainer(_ context.Context, pod *api.PodSandbox, c *api.Container) error {
	p.ctrEvent("PostStartContainer", pod, c)
	if strings.HasPrefix(c.GetName(), "update-") {
		id := c.GetId()
		go func() {
			u := &api.ContainerUpdate{ContainerId: id, Linux: &api.LinuxContainerUpdate{Resources: &api.LinuxResources{
				Memory: &api.LinuxMemory{Limit: api.Int64(updateMemory)},
			}}}
			failed, err := p.stub.UpdateContainers([]*api.ContainerUpdate{u})
			p.record(event{Event: fmt.Sprintf("UpdateContainers failed=%d err=%v", len(failed), err), ID: id})
		}()
	}
	return nil
}

func (p *plugin) UpdateContainer(_ context.Context, pod *api.PodSandbox, c *api.Container, _ *api.LinuxResources) ([]*api.ContainerUpdate, error) {
	p.ctrEvent("UpdateContainer", pod, c)
	return nil, nil
}

func (p *plugin) StopContainer(_ context.Context, pod *api.PodSandbox, c *api.Container) ([]*api.ContainerUpdate, error) {
	p.ctrEvent("StopContainer", pod, c)
	return nil, nil
}

func (p *plugin) RemoveContainer(_ context.Context, pod *api.PodSandbox, c *api.Container) error {
	p.ctrEvent("RemoveContainer", pod, c)
	return nil
}

func main() {
	socket := flag.String("socket", "", "the runtime's NRI socket")
	idx := flag.String("idx", "10", "the plugin's index")
	events := flag.String("events", "", "file the events are appended to")
	mountSrc := flag.String("mount-src", "/", "host directory adjust- containers get at /nri-mount")
	reconnect := flag.Bool("reconnect", false, "connect again when the runtime goes away")
	quiet := flag.Bool("quiet", false, "record only connections and synchronisations")
	flag.Parse()
	out, err := os.OpenFile(*events, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	p := &plugin{mountSrc: *mountSrc, out: out, quiet: *quiet}
	for {
		closed := make(chan struct{})
		opts := []stub.Option{stub.WithOnClose(func() { close(closed) })}
		if os.Getenv(api.PluginSocketEnvVar) == "" {
			// Not started by the runtime (a pre-installed plugin is given
			// its name, index and connection).
			opts = append(opts, stub.WithSocketPath(*socket), stub.WithPluginName("cria-test"), stub.WithPluginIdx(*idx))
		}
		s, err := stub.New(p, opts...)
		if err != nil {
			log.Fatal(err)
		}
		p.mu.Lock()
		p.stub = s
		p.mu.Unlock()
		if err := s.Start(context.Background()); err != nil {
			if !*reconnect {
				log.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		p.record(event{Event: "Connected"})
		<-closed
		p.record(event{Event: "Disconnected"})
		if !*reconnect {
			return
		}
	}
}
