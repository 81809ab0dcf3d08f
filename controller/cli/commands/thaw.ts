import { freezerCommand } from './freeze-thaw.ts';

export default freezerCommand('thaw');
