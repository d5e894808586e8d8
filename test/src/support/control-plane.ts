/**
 * A controller's control-plane foundations over a real nats-server (or a 3-node cluster) in
 * operator mode: key store in a temp dir, server auth config from the identity module, the
 * controller's own and system connections, buckets and stream, a published trust store and
 * the enrolment service.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { systemClock } from '@launchfleet/shared';
import {
  type ControlPlaneStore,
  KeyStore,
  NatsIdentity,
  provisionControlPlane,
  publishTrustStore,
} from '@launchfleet/controller/identity';
import { type EnrollmentDeps, EnrollmentService } from '@launchfleet/controller/enrollment';
import { type NatsServer, type ServerLauncher, startCluster, startServer } from './nats-server.ts';

export interface ControlPlaneHarness {
  readonly dir: string;
  readonly keyStore: KeyStore;
  readonly identity: NatsIdentity;
  readonly servers: readonly NatsServer[];
  readonly urls: string[];
  /** The controller's connection (full rights in the fleet account). */
  readonly nc: NatsConnection;
  /** The system-account connection. */
  readonly sys: NatsConnection;
  readonly store: ControlPlaneStore;
  readonly enrollment: EnrollmentService;
  /** Bootstrap user credentials. */
  readonly enrollCreds: Uint8Array;
  close(): Promise<void>;
}

export async function startControlPlane(
  o: {
    cluster?: boolean;
    launcher?: ServerLauncher;
    /** More nats-server configuration for every server (e.g. lame-duck timings). */
    serverConfig?: string;
    /** Enrolment service settings (credential lifetime, renewal skew, revocation grace). */
    enrollment?: Partial<
      Pick<
        EnrollmentDeps,
        'credentialsLifetimeMs' | 'renewalMaxSkewMs' | 'revocationGraceMs' | 'accountResyncMs'
      >
    >;
  } = {},
): Promise<ControlPlaneHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'lf-control-'));
  const keyStore = await KeyStore.open(join(dir, 'keys'));
  const identity = new NatsIdentity(keyStore.natsKeys());
  const extraConfig = `${await identity.serverAuthConfig()}\n${o.serverConfig ?? ''}`;
  const launcher = o.launcher;
  const servers = o.cluster
    ? await startCluster(3, { extraConfig, ...(launcher ? { launcher } : {}) })
    : [await startServer({ extraConfig, ...(launcher ? { launcher } : {}) })];
  const urls = servers.map((s) => s.url);
  const conns: NatsConnection[] = [];
  try {
    const nc = await connect({
      servers: urls,
      authenticator: credsAuthenticator(await identity.controllerCreds()),
      name: 'controller',
      reconnectTimeWait: 100,
      maxReconnectAttempts: -1,
    });
    conns.push(nc);
    const sys = await connect({
      servers: urls,
      authenticator: credsAuthenticator(await identity.systemCreds()),
      name: 'controller-sys',
      reconnectTimeWait: 100,
      maxReconnectAttempts: -1,
    });
    conns.push(sys);
    const store = await provisionControlPlane(nc, { replicas: o.cluster ? 3 : 1 });
    await publishTrustStore(store.trust, keyStore, { now: systemClock.wallMs() });
    const enrollment = new EnrollmentService({
      nc,
      sys,
      store,
      identity,
      clock: systemClock,
      ...o.enrollment,
    });
    await enrollment.start();
    const enrollCreds = await identity.enrollCreds();
    return {
      dir,
      keyStore,
      identity,
      servers,
      urls,
      nc,
      sys,
      store,
      enrollment,
      enrollCreds,
      close: async () => {
        await enrollment.stop();
        await Promise.allSettled(conns.map((c) => c.close()));
        for (const s of servers) await s.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await Promise.allSettled(conns.map((c) => c.close()));
    for (const s of servers) await s.stop();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
