package election

// Conversions between the Go contract (election.go) and the messages of
// proto/election.proto.

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/rideshare/dbaas/plugins/election/proto"
	"github.com/rideshare/dbaas/plugins/pluginrpc"
)

func configToProto(c Config) *pb.Config {
	return &pb.Config{Servers: c.Servers, Root: c.Root, SessionTimeout: durationpb.New(c.SessionTimeout), Options: c.Options}
}

func configFromProto(c *pb.Config) Config {
	var d time.Duration
	if c.GetSessionTimeout() != nil {
		d = c.GetSessionTimeout().AsDuration()
	}
	return Config{Servers: c.GetServers(), Root: c.GetRoot(), SessionTimeout: d, Options: c.GetOptions()}
}

func memberToProto(m Member) *pb.Member {
	out := &pb.Member{
		Id: m.ID, Pid: int64(m.PID), Role: m.Role, AppliedSeq: m.AppliedSeq,
		StartedAt: pluginrpc.Timestamp(m.StartedAt), Ready: m.Ready, Draining: m.Draining,
		LogEpoch: m.LogEpoch, StartedFrom: m.StartedFrom,
	}
	if p := m.Progress; p != nil {
		out.Progress = &pb.Progress{Phase: p.Phase, Unit: p.Unit, Done: p.Done, Total: p.Total, Rate: p.Rate}
	}
	return out
}

func memberFromProto(m *pb.Member) Member {
	out := Member{
		ID: m.GetId(), PID: int(m.GetPid()), Role: m.GetRole(), AppliedSeq: m.GetAppliedSeq(),
		StartedAt: pluginrpc.Time(m.GetStartedAt()), Ready: m.GetReady(), Draining: m.GetDraining(),
		LogEpoch: m.GetLogEpoch(), StartedFrom: m.GetStartedFrom(),
	}
	if p := m.GetProgress(); p != nil {
		out.Progress = &Progress{Phase: p.GetPhase(), Unit: p.GetUnit(), Done: p.GetDone(), Total: p.GetTotal(), Rate: p.GetRate()}
	}
	return out
}

func leaderToProto(l Leader) *pb.Leader {
	return &pb.Leader{Id: l.ID, Pid: int64(l.PID), Epoch: l.Epoch}
}

func leaderFromProto(l *pb.Leader) Leader {
	return Leader{ID: l.GetId(), PID: int(l.GetPid()), Epoch: l.GetEpoch()}
}

func snapshotToProto(r SnapshotRecord) *pb.SnapshotRecord {
	return &pb.SnapshotRecord{
		Id: r.ID, State: r.State, Queue: r.Queue, Seq: r.Seq, Epoch: r.Epoch, Offset: r.Offset,
		Chunks: int64(r.Chunks), Bytes: r.Bytes, Sha256: r.SHA256, TakenBy: r.TakenBy,
		StartedAt: pluginrpc.Timestamp(r.StartedAt), CompletedAt: pluginrpc.Timestamp(r.CompletedAt),
	}
}

func snapshotFromProto(r *pb.SnapshotRecord) SnapshotRecord {
	return SnapshotRecord{
		ID: r.GetId(), State: r.GetState(), Queue: r.GetQueue(), Seq: r.GetSeq(), Epoch: r.GetEpoch(),
		Offset: r.GetOffset(), Chunks: int(r.GetChunks()), Bytes: r.GetBytes(), SHA256: r.GetSha256(),
		TakenBy: r.GetTakenBy(), StartedAt: pluginrpc.Time(r.GetStartedAt()), CompletedAt: pluginrpc.Time(r.GetCompletedAt()),
	}
}
