// The part of systemd's D-Bus API (org.freedesktop.systemd1) the product uses, declared once; checked
// by test/contract against what systemd 257 answers to Introspect.
import { declareInterface, method } from '../bus/signature.ts';

export const ManagerInterface = declareInterface({
  name: 'org.freedesktop.systemd1.Manager',
  methods: {
    Subscribe: method('', ''),
    LoadUnit: method('s', 'o'),
    StartUnit: method('ss', 'o'),
    StopUnit: method('ss', 'o'),
    RestartUnit: method('ss', 'o'),
    ReloadUnit: method('ss', 'o'),
    ListUnits: method('', 'a(ssssssouso)'),
    EnableUnitFiles: method('asbb', 'ba(sss)'),
    DisableUnitFiles: method('asb', 'a(sss)'),
    GetUnitFileState: method('s', 's'),
    Reload: method('', ''),
    ResetFailedUnit: method('s', ''),
  },
  signals: { JobRemoved: 'uoss' },
  properties: { SystemState: 's' },
});
