/**
 * The FleetService's and RolloutService's messages, as generated from proto/ by
 * `npm run gen` (scripts/gen-proto-types.mjs, into controller/src/gen/, part of the build). A
 * handler receives the `__Output` form (every field present: proto-loader's defaults) and
 * returns the `__Output` form too, so the compiler checks that every field of an answer is set.
 */
export type { ApplyJobRequest__Output as ApplyJobRequest } from '../gen/launchfleet/controller/v1/ApplyJobRequest.ts';
export type { ApplyJobResponse__Output as ApplyJobResponse } from '../gen/launchfleet/controller/v1/ApplyJobResponse.ts';
export type { AuditEntry__Output as AuditEntry } from '../gen/launchfleet/controller/v1/AuditEntry.ts';
export type { CreateEnrollmentTokenRequest__Output as CreateEnrollmentTokenRequest } from '../gen/launchfleet/controller/v1/CreateEnrollmentTokenRequest.ts';
export type { CreateEnrollmentTokenResponse__Output as CreateEnrollmentTokenResponse } from '../gen/launchfleet/controller/v1/CreateEnrollmentTokenResponse.ts';
export type { DeleteJobRequest__Output as DeleteJobRequest } from '../gen/launchfleet/controller/v1/DeleteJobRequest.ts';
export type { DeleteJobResponse__Output as DeleteJobResponse } from '../gen/launchfleet/controller/v1/DeleteJobResponse.ts';
export type { DescribeNodeRequest__Output as DescribeNodeRequest } from '../gen/launchfleet/controller/v1/DescribeNodeRequest.ts';
export type { Event__Output as Event } from '../gen/launchfleet/controller/v1/Event.ts';
export type { GetJobRequest__Output as GetJobRequest } from '../gen/launchfleet/controller/v1/GetJobRequest.ts';
export type { GetRolloutRequest__Output as GetRolloutRequest } from '../gen/launchfleet/controller/v1/GetRolloutRequest.ts';
export type { Job__Output as Job } from '../gen/launchfleet/controller/v1/Job.ts';
export type { JobHealthRequest__Output as JobHealthRequest } from '../gen/launchfleet/controller/v1/JobHealthRequest.ts';
export type { JobHealthResponse__Output as JobHealthResponse } from '../gen/launchfleet/controller/v1/JobHealthResponse.ts';
export type { JobState__Output as JobState } from '../gen/launchfleet/controller/v1/JobState.ts';
export type { ListAuditEntriesRequest__Output as ListAuditEntriesRequest } from '../gen/launchfleet/controller/v1/ListAuditEntriesRequest.ts';
export type { ListAuditEntriesResponse__Output as ListAuditEntriesResponse } from '../gen/launchfleet/controller/v1/ListAuditEntriesResponse.ts';
export type { ListJobsResponse__Output as ListJobsResponse } from '../gen/launchfleet/controller/v1/ListJobsResponse.ts';
export type { ListNodesRequest__Output as ListNodesRequest } from '../gen/launchfleet/controller/v1/ListNodesRequest.ts';
export type { ListNodesResponse__Output as ListNodesResponse } from '../gen/launchfleet/controller/v1/ListNodesResponse.ts';
export type { ListRolloutsRequest__Output as ListRolloutsRequest } from '../gen/launchfleet/controller/v1/ListRolloutsRequest.ts';
export type { ListRolloutsResponse__Output as ListRolloutsResponse } from '../gen/launchfleet/controller/v1/ListRolloutsResponse.ts';
export type { NodeDetail__Output as NodeDetail } from '../gen/launchfleet/controller/v1/NodeDetail.ts';
export type { NodeJob__Output as NodeJob } from '../gen/launchfleet/controller/v1/NodeJob.ts';
export type { NodeSummary__Output as NodeSummary } from '../gen/launchfleet/controller/v1/NodeSummary.ts';
export type { Presence__Output as Presence } from '../gen/launchfleet/controller/v1/Presence.ts';
export type { ProblemNode__Output as ProblemNode } from '../gen/launchfleet/controller/v1/ProblemNode.ts';
export type { RevokeNodeRequest__Output as RevokeNodeRequest } from '../gen/launchfleet/controller/v1/RevokeNodeRequest.ts';
export type { RevokeNodeResponse__Output as RevokeNodeResponse } from '../gen/launchfleet/controller/v1/RevokeNodeResponse.ts';
export type { Rollout__Output as Rollout } from '../gen/launchfleet/controller/v1/Rollout.ts';
export type { RolloutCommandRequest__Output as RolloutCommandRequest } from '../gen/launchfleet/controller/v1/RolloutCommandRequest.ts';
export type { RolloutCount__Output as RolloutCount } from '../gen/launchfleet/controller/v1/RolloutCount.ts';
export type { StartRolloutRequest__Output as StartRolloutRequest } from '../gen/launchfleet/controller/v1/StartRolloutRequest.ts';
export type { Target__Output as Target } from '../gen/launchfleet/controller/v1/Target.ts';
export type { WatchEventsRequest__Output as WatchEventsRequest } from '../gen/launchfleet/controller/v1/WatchEventsRequest.ts';
export type { WatchRolloutRequest__Output as WatchRolloutRequest } from '../gen/launchfleet/controller/v1/WatchRolloutRequest.ts';
