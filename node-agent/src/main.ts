/**
 * `launchfleet-agent` from a checkout or an installed tree (node-agent/bin/launchfleet-agent.js);
 * the single-file agent starts from sea/sea-main.ts instead. See agent/agent-cli.ts.
 */
import { runAgentCli } from './agent/agent-cli.ts';

await runAgentCli(process.argv.slice(2));
