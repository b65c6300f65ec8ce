import { expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type {
  IClusterRole,
  IClusterRoleBinding,
  IPolicyRule,
  IRole,
  IRoleBinding,
} from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { FIXTURES, find, findAll, fixture, helmMissing, render, type K8sObject } from './render.js';
import { describeUnless } from '../helpers/skip.js';

const d = describeUnless(helmMissing);

/** The sidecars whose upstream RBAC the chart reproduces, with their fixture (facts; see its README). */
const SIDECARS = ['provisioner', 'attacher', 'snapshotter', 'resizer'] as const;
/** The optional one (sidecars.healthMonitor.enabled), off by default. */
const HEALTH_MONITOR = 'health-monitor';

interface UpstreamRbac {
  clusterRole: IPolicyRule[];
  role: IPolicyRule[];
}

function upstream(sidecar: string): UpstreamRbac {
  return parseYaml(readFileSync(join(FIXTURES, 'upstream-rbac', `${sidecar}.yaml`), 'utf8')) as UpstreamRbac;
}

/**
 * What a list of rules grants, one `group/resource: verb` line per permission, sorted: the same
 * permissions written in another order or grouping compare equal, and anything granted or
 * missing beyond upstream shows as a line of difference.
 */
function grants(rules: readonly IPolicyRule[] | undefined): string[] {
  const out = new Set<string>();
  for (const r of rules ?? []) {
    expect(r.resourceNames ?? []).toEqual([]);
    expect(r.nonResourceURLs ?? []).toEqual([]);
    for (const g of r.apiGroups ?? [])
      for (const res of r.resources ?? []) for (const v of r.verbs) out.add(`${g || 'core'}/${res}: ${v}`);
  }
  return [...out].sort();
}

d('RBAC is exactly the pinned sidecars’ own', () => {
  const objects = (): K8sObject[] => render([fixture('minimal.yaml')], { release: '3par-csi', namespace: 'storage' });

  it.each(SIDECARS)('%s: the ClusterRole grants what upstream’s does, nothing more', (sidecar) => {
    const role = find<IClusterRole>(objects(), 'ClusterRole', `3par-csi-${sidecar}`);
    expect(grants(role.rules)).toEqual(grants(upstream(sidecar).clusterRole));
  });

  it.each(SIDECARS)('%s: the namespaced Role grants what upstream’s does, nothing more', (sidecar) => {
    const role = find<IRole & K8sObject>(objects(), 'Role', `3par-csi-${sidecar}`);
    expect(role.metadata.namespace).toBe('storage');
    expect(grants(role.rules)).toEqual(grants(upstream(sidecar).role));
  });

  it('renders no other role, and binds every one to the controller’s ServiceAccount only', () => {
    const all = objects();
    const names = (kind: string): string[] =>
      findAll<K8sObject>(all, kind)
        .map((o) => o.metadata.name)
        .sort();
    const expected = SIDECARS.map((s) => `3par-csi-${s}`).sort();
    expect(names('ClusterRole')).toEqual(expected);
    expect(names('Role')).toEqual(expected);
    for (const b of [
      ...findAll<IClusterRoleBinding>(all, 'ClusterRoleBinding'),
      ...findAll<IRoleBinding>(all, 'RoleBinding'),
    ]) {
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: '3par-csi-controller', namespace: 'storage' }]);
      expect(b.roleRef.name).toBe(b.metadata!.name);
    }
    expect(names('ClusterRoleBinding')).toEqual(expected);
    expect(names('RoleBinding')).toEqual(expected);
  });

  it('grants no Secret access anywhere (upstream leaves it commented out; the chart refuses class secrets)', () => {
    const rules = [...findAll<IClusterRole>(objects(), 'ClusterRole'), ...findAll<IRole>(objects(), 'Role')].flatMap(
      (r) => grants(r.rules),
    );
    expect(rules.filter((g) => /\/secrets:|\*/.test(g))).toEqual([]);
  });

  it('the comparison catches drift: an extra verb, a missing rule', () => {
    const base = upstream('provisioner').clusterRole;
    const extra = base.map((r) =>
      r.resources?.[0] === 'volumeattributesclasses' ? { ...r, verbs: [...r.verbs, 'list'] } : r,
    );
    expect(grants(extra)).not.toEqual(grants(base));
    expect(grants(base.slice(1))).not.toEqual(grants(base));
    // The same grants split over rules differently are equal.
    const split = base.flatMap((r) => r.verbs.map((v) => ({ ...r, verbs: [v] })));
    expect(grants(split)).toEqual(grants(base));
  });
});

d('the optional health monitor’s RBAC is exactly upstream’s, and only when it runs', () => {
  const on = (): K8sObject[] =>
    render([fixture('minimal.yaml')], {
      release: '3par-csi',
      namespace: 'storage',
      set: ['sidecars.healthMonitor.enabled=true'],
    });

  it('off by default: no container, no role', () => {
    const all = render([fixture('minimal.yaml')], { release: '3par-csi', namespace: 'storage' });
    expect(all.filter((o) => o.metadata.name === `3par-csi-${HEALTH_MONITOR}`)).toEqual([]);
    expect(JSON.stringify(all)).not.toContain('external-health-monitor');
  });

  it('on: its ClusterRole and Role grant what upstream’s do, bound to the controller’s ServiceAccount', () => {
    const all = on();
    const fixtureRules = upstream(HEALTH_MONITOR);
    expect(grants(find<IClusterRole>(all, 'ClusterRole', `3par-csi-${HEALTH_MONITOR}`).rules)).toEqual(
      grants(fixtureRules.clusterRole),
    );
    const role = find<IRole & K8sObject>(all, 'Role', `3par-csi-${HEALTH_MONITOR}`);
    expect(role.metadata.namespace).toBe('storage');
    expect(grants(role.rules)).toEqual(grants(fixtureRules.role));
    for (const kind of ['ClusterRoleBinding', 'RoleBinding']) {
      const b = find<IClusterRoleBinding>(all, kind, `3par-csi-${HEALTH_MONITOR}`);
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: '3par-csi-controller', namespace: 'storage' }]);
      expect(b.roleRef.name).toBe(`3par-csi-${HEALTH_MONITOR}`);
    }
  });

  it('on: the sidecar runs in the controller pod on the driver’s socket, pinned, with leader election', () => {
    const deployment = find<
      K8sObject & { spec: { template: { spec: { containers: { name: string; image: string; args: string[] }[] } } } }
    >(on(), 'Deployment', '3par-csi-controller');
    const c = deployment.spec.template.spec.containers.find(
      (x) => x.name === 'csi-external-health-monitor-controller',
    )!;
    expect(c.image).toBe('registry.k8s.io/sig-storage/csi-external-health-monitor-controller:v0.18.0');
    expect(c.args).toEqual(
      expect.arrayContaining([
        '--csi-address=/csi/csi.sock',
        '--leader-election=true',
        '--list-volumes-interval=5m',
        '--enable-node-watcher=false',
      ]),
    );
  });
});
